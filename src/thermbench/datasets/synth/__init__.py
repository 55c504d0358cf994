"""The synthetic thermal world (design §4): seeded renders of a MediaPipe face mesh, written in the raw on-disk
formats of ThermEval-D, T-FAKE and CHARLOTTE-ThermalFace so the real parsers read them unchanged. Each dataset's twin
(`synth/<dataset>.py`) has `write(out, cfg, seed)` and the `REQUIRED` keys of its params."""
