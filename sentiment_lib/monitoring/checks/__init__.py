"""Is the champion still fit? The staleness checks (performance, age, drift, the label-free estimate), the
verdict's vocabulary, the drift explanation, what the operator accepted about drift, and the evidence the
workspace holds for them."""
