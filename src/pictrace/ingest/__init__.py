"""Where images come from: files and folders, URLs, crawled pages."""
