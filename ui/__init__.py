"""The people-facing surfaces: the Gradio app, the terminal chat and the `movierec` command line.
The top layer: imports agent/, tools/, index/ and eval/ (the command line's eval commands); nothing imports ui/."""
