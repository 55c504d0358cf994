"""MLCM-KD (the paper): RGB teacher -> thermal students (KTL, DIKD) -> smaller thermal students (MCL)."""
