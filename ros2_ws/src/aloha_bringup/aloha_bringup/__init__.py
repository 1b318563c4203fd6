"""ALOHA bringup: robot description YAML and helpers to find it."""
