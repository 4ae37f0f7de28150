package feedhub

// Registered is how many subscribers the tailer feeds (done catching up).
func (h *Hub) Registered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
