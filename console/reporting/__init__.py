"""The monthly client report: chart specs shared with the console, the PDF, and its delivery."""
