"""A reviewer's reproduction of a contribution (``gymkit reproduce NAME``) and its report."""
