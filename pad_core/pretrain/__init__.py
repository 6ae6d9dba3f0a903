"""Pretraining the demo's tiny CLIP on a synthetic captioned-shapes corpus, cached by its config (the demo then
fine-tunes from the file through ``--pretrained PATH``, as a user with real weights does).

``spec`` (what a run computes and its cache key), ``contrastive`` (the run), ``cache`` (the file, built once),
``command`` (``python -m pad_core pretrain``). Nothing is imported here, so the CLI's parser stays light.
"""
