"""Speed and cost: FLOPs, latency, deployment, the paper grid's GPU-hours and the GPU check."""
