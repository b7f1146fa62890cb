"""User-facing tools built on the pipeline: verify, compare, inspect, and the firmware (QEMU) runs."""
