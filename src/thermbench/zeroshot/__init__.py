"""Zero-shot reproduction: off-the-shelf landmarkers (the runners in models/) on thermal faces, with no training.
registry.py lists the built-in models; bakeoff.py + evaluate.py are the project's ThermEval protocols (submission.py
scores a user's files the same way, report.py and blog_report.py write the report), protocols/ the blog's, table1/
the zero-shot rows of the MLCM-KD Table I. Each stage script imports the modules it runs."""
