"""The LLM backends: tool-call text protocol, GGUF files, the llama.cpp runtime, LlamaIndex adapters, the chooser.
Imported by the rest of index/, tools/, agent/, ui/ and eval/; inside, modules import only those below them."""
