"""The blog's ThermEval protocols, one module each: part 1 (blog_part1) and part 3 (blog_part3, its MediaPipe
pipelines in face_pipeline). The project's own split-2 full-frame and crop protocols are zeroshot/evaluate.py."""
