"""qcompile: compile trained models into int8 C for microcontrollers, bit-exact with a numpy reference."""

__version__ = "0.1.0"
