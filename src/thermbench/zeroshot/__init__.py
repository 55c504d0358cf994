"""Zero-shot adapters (MediaPipe FaceMesh, DWPose via rtmlib, Sapiens2): frame in, per-person keypoints out."""
