"""Zero-shot reproduction: off-the-shelf landmarkers (the runners in models/) on thermal faces, with no training.
Stages call api.py; bakeoff.py + evaluate.py + report.py are the project's ThermEval protocols, protocols/ the blog's,
table1/ the zero-shot rows of the MLCM-KD Table I."""
