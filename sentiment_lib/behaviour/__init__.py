"""Behavioural tests (CheckList-style capabilities): ``lexicons`` (the words), ``suite`` (the templates, the
cases and their pass rates), ``versions`` (one registered version against the champion)."""
