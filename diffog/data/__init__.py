"""Episode data: ALOHA / ACT HDF5 files (aloha_hdf5) and the datasets built on them."""
