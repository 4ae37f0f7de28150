package ingest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

type metrics struct {
	received   prometheus.Counter
	stored     prometheus.Counter
	duplicates prometheus.Counter
	conflicts  prometheus.Counter
	rejected   *prometheus.CounterVec
	suppressed prometheus.Counter
	// consentUnknown counts consent categories that map to no purpose.
	consentUnknown prometheus.Counter
	refused        *prometheus.CounterVec
	batchSize      prometheus.Histogram
	commitTime     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, depth func() float64, log zerolog.Logger) *metrics {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_events_received_total",
			Help: "Messages received by the collector, valid or not.",
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_events_stored_total",
			Help: "Events committed to the store.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_events_duplicate_total",
			Help: "Events dropped because their source had already sent their messageId with the same content.",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_events_duplicate_conflict_total",
			Help: "Events refused because their source had already sent their messageId with different content.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdp_ingest_events_rejected_total",
			Help: "Messages refused as invalid, by reason.",
		}, []string{"reason"}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_events_suppressed_total",
			Help: "Events dropped, not stored, because they carry an identifier on the suppression list (an erased person's).",
		}),
		consentUnknown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_consent_unknown_categories_total",
			Help: "Consent categories of Segment messages (context.consent.categoryPreferences) that map to no purpose of the rules; they are ignored.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdp_ingest_events_refused_total",
			Help: "Valid events not committed and answered 429 or 503, by reason (overloaded, unavailable, closed, error).",
		}, []string{"reason"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cdp_ingest_batch_size",
			Help:    "Events per store transaction (micro-batch).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000},
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cdp_ingest_commit_duration_seconds",
			Help:    "Time to commit one micro-batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	if reg == nil {
		return m
	}
	// Every refusal reason exists from the start, at 0, for dashboards
	// and alerts.
	for _, reason := range []string{"overloaded", "unavailable", "closed", "error"} {
		m.refused.WithLabelValues(reason)
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cdp_ingest_queue_depth",
		Help: "Events queued or being committed.",
	}, depth)
	for _, c := range []prometheus.Collector{m.received, m.stored, m.duplicates, m.conflicts, m.rejected, m.suppressed, m.consentUnknown, m.refused, m.batchSize, m.commitTime, queue} {
		if err := reg.Register(c); err != nil {
			// A second collector on one registry keeps working; only its
			// metrics are not exported.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				log.Error().Err(err).Msg("ingest: could not register a metric")
			}
		}
	}
	return m
}
