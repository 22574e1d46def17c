"""How well the guards hold: the input screen on its corpus and on a frozen held-out split (`screen`), and the
whole agent's hallucination and injection audit behind `movierec audit` (`audit`)."""
