"""Zero-shot rows of the MLCM-KD Table I: T-FAKE-format thermal tests (NME-IO) and the CHARLOTTE-format subsets
(NME-diag), written in the schema of the MLCM-KD evaluate stage's metrics files (metrics/mlcmkd/zeroshot-<name>.json).
One module per model (dlib, tfan) over the shared crop, fallback box, scoring and row head (common); rows.py
holds each built-in model's adapter."""
