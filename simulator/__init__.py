"""Device simulator: many GOTOP, watch and GT06 devices over real sockets, for demos and benchmarks."""
