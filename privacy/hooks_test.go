package privacy

// SetChangePage makes exports read audience log entries n at a time until
// restore is called.
func SetChangePage(n int) (restore func()) {
	old := changePage
	changePage = n
	return func() { changePage = old }
}
