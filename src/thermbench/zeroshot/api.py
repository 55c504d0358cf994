"""The zero-shot stages' calls (stages/zeroshot/*.py), one door over the area:

- the bake-off on the project's ThermEval nose protocols: `predict` per built-in model with `ZeroshotConfig`
  (bakeoff.py, scored by evaluate.py), a user's predictions files scored the same way by `score_submissions`
  (submission.py), and the report `write_report` (report.py, blog_report.py);
- the blog's own protocols: `blog_part1` with `Part1Config` and `Adapters`, `blog_part3` with `Part3Config`
  (protocols/);
- the zero-shot rows of the MLCM-KD Table I: `table1_row` per built-in model with `Table1Inputs` (its dlib-68
  settings `Table1Config`), and a user's landmark files `table1_submissions` (table1/).
"""

from thermbench.zeroshot.bakeoff import ZeroshotConfig, predict, score_submissions, write_report
from thermbench.zeroshot.protocols.blog_part1 import Adapters, Part1Config
from thermbench.zeroshot.protocols.blog_part1 import evaluate as blog_part1
from thermbench.zeroshot.protocols.blog_part3 import Part3Config
from thermbench.zeroshot.protocols.blog_part3 import evaluate as blog_part3
from thermbench.zeroshot.table1.dlib import Table1Config
from thermbench.zeroshot.table1.rows import Table1Inputs
from thermbench.zeroshot.table1.rows import write_row as table1_row
from thermbench.zeroshot.table1.submission import evaluate as table1_submissions

__all__ = ["Adapters", "Part1Config", "Part3Config", "Table1Config", "Table1Inputs", "ZeroshotConfig", "blog_part1",
           "blog_part3", "predict", "score_submissions", "table1_row", "table1_submissions", "write_report"]
