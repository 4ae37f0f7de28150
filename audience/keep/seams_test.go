package keep

// SetPreviewPages makes the live profiles read n ids a page, previews
// evaluate them one page at a time, and after (when not nil) run after
// each page a preview evaluated, until restore is called.
func SetPreviewPages(n int, after func(ids []string)) (restore func()) {
	oldPage, oldWorkers, oldAfter := livePage, previewWorkers, afterPreviewPage
	livePage, previewWorkers, afterPreviewPage = n, func() int { return 1 }, after
	return func() { livePage, previewWorkers, afterPreviewPage = oldPage, oldWorkers, oldAfter }
}
