"""Episode data: ALOHA / ACT HDF5 files (aloha_hdf5), the datasets and normalizer built on them, and the
episode recorder's core (recorder: robot streams -> one episode file). May import: diffog.robot.
"""
