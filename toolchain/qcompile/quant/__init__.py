"""Quantization: calibration observers, parameter choice, and the fixed-point arithmetic they share with the reference."""
