"""Fabric Brain's document side: reading a source file into text (`extract`) and cutting the
text into chunks that keep where they came from (`chunking`). Embedding, the index, watching
and the HTTP surface build on these."""
