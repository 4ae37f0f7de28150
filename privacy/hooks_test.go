package privacy

// SetChangePage makes exports read audience log entries n at a time until
// restore is called.
func SetChangePage(n int) (restore func()) {
	old := changePage
	changePage = n
	return func() { changePage = old }
}

// SetEventPage makes exports read events n at a time, calling after (when
// not nil) after each page is read, until restore is called.
func SetEventPage(n int, after func()) (restore func()) {
	old, oldAfter := eventPage, afterEventPage
	eventPage, afterEventPage = n, after
	return func() { eventPage, afterEventPage = old, oldAfter }
}
