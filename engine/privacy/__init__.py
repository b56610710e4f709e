"""A person's rights and retention: their data handed out, rectified, erased; legal holds; the retention job."""
