"""Evaluation transcripts: the file format (files), how they are written from evaluation users without
looking at what is held out (build, profile, phrasing), how their turns read (reading) and which held-out
films pass the conditions they set (conditions). `python -m eval.transcripts build|show`."""
