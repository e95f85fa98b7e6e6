"""Paper reproductions and chapter experiments: topics combined with the workbench.

Each module here is what one chapter (or one paper) runs; every artefact it
keeps goes through :mod:`lib.core.cache`.
"""
