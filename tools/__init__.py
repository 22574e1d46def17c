"""The agent's tools and what they stand on: preference reading, candidate fusion, JustifiedRerank, reasons.
Imports index/ only; imported by agent/, ui/ and eval/."""
