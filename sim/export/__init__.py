"""Stage 9, export: a study's results in, files out.

Takes a finished study (plans, units, scores); gives the typed summary, the GIS layers
(EPSG:4326), the interactive map, the report and its figures in English or Chinese, and
writes the output folder all or nothing (:mod:`sim.export.writing`).
"""
