"""Real recommendation dialogues: ReDial turned into transcripts, and the reading check of the seeker's turns.

Data: ReDial (Li et al., 2018, "Towards Deep Conversational Recommendations", NeurIPS; CC BY 4.0), IARD subset
(Cai and Chen, 2020, UMAP) as formatted by UserSimCRS (iai-group, Apache-2.0), at
../shared/data/redial_iard/redial_iard_dev.json. Files derived from it (the transcripts `build` writes, the
reading labels in eval/) are distributed under CC BY 4.0 with this attribution.

eval/redial/split.json froze which dialogues are dev (read, tune on) and which are test (reported once).
`python -m eval.redial build|reading --split dev|test`; see eval/redial/__main__.py.
"""
