package reports

// Exact nearest-rank percentiles by selection: O(n) on average, no sort.

// rank is the 0-based index of the p-th percentile (0 < p ≤ 100) of n
// sorted values, by the nearest-rank method: ceil(p/100·n) - 1.
func rank(n int, p int) int {
	k := (p*n + 99) / 100
	return max(k, 1) - 1
}

// percentiles returns the median and the 90th percentile of v, by nearest
// rank. It reorders v. ok is false when v is empty.
func percentiles(v []int64) (median, p90 int64, ok bool) {
	if len(v) == 0 {
		return 0, 0, false
	}
	k50, k90 := rank(len(v), 50), rank(len(v), 90)
	median = selectK(v, k50)
	// selectK leaves every value at or above v[k50] after it.
	p90 = selectK(v[k50:], k90-k50)
	return median, p90, true
}

// selectK returns the k-th smallest (0-based) value of v, reordering v so
// that v[k] holds it, smaller or equal values are before it and greater or
// equal after it.
func selectK(v []int64, k int) int64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		// Median of three as the pivot; a three-way partition keeps runs of
		// equal values (common in seconds) linear.
		mid := lo + (hi-lo)/2
		a, b, c := v[lo], v[mid], v[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch {
			case v[i] < pivot:
				v[lt], v[i] = v[i], v[lt]
				lt++
				i++
			case v[i] > pivot:
				v[gt], v[i] = v[i], v[gt]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return v[k]
		}
	}
	return v[k]
}
