"""Warning feeds: CAP 1.2 / 1.1 XML, QWeather JSON, manual entry → one ``FeedWarning``."""
