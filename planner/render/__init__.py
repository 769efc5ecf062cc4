"""Output: formats (table, JSON, CSV, markdown), the CSV writer, charts and the HTML report."""
