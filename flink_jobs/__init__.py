"""PyFlink jobs. Each module is a pure SQL builder plus a thin ``main`` that wires settings."""
