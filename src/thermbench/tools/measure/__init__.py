"""Measurements that set or size params: the synthetic calibration, the head-crop geometry, power, scale."""
