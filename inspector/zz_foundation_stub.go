package inspector

// TEMPORARY: the foundation API's shapes; removed when main is merged.

// StatusReferralAnswered is a stub.
const StatusReferralAnswered Status = "referral_answered"

// SubstantiatedOutcome is a stub.
func SubstantiatedOutcome(v OutcomeValue) bool {
	return v == OutcomeSubstantiated || v == OutcomeResolvedOnSpot || v == OutcomeDiscipline
}
