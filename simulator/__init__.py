"""Device simulator: many devices, one profile per protocol (simulator/profiles), over real sockets, for demos and benchmarks."""
