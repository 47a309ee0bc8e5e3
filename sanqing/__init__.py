"""sanqing (三情): township emergency plans for overlapping epidemic, flood and disaster situations."""

__version__ = "0.1.0"
