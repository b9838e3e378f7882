package inspector

// StatusTextFa is how a status is told to a caller who asks after their
// complaint, in Persian: what happens next, never who does it.
var StatusTextFa = map[Status]string{
	StatusReceived:            "شکایت شما ثبت شده و در انتظار ارجاع است.",
	StatusAssigned:            "شکایت شما به بازرس ارجاع شده است.",
	StatusInProgress:          "بازرس در حال رسیدگی به شکایت شماست.",
	StatusResolved:            "رسیدگی به شکایت شما به پایان رسیده است.",
	StatusNotSubstantiated:    "رسیدگی انجام شد و موضوع شکایت تأیید نشد.",
	StatusReferredToWorkplace: "شکایت شما برای پاسخ به دستگاه مربوط ارجاع شده است.",
	StatusReferralAnswered:    "دستگاه مربوط پاسخ داده و پاسخ در حال بررسی است.",
	StatusNeedsReview:         "شکایت شما در حال بررسی مجدد است.",
	StatusWithdrawn:           "پرونده شکایت بسته شده است.",
}

// OutcomeTextFa is an outcome told to the caller, in Persian.
var OutcomeTextFa = map[OutcomeValue]string{
	OutcomeSubstantiated:    "موضوع شکایت تأیید شد و به دستگاه مربوط اعلام شد.",
	OutcomeNotSubstantiated: "موضوع شکایت در بازرسی تأیید نشد.",
	OutcomeResolvedOnSpot:   "مشکل در محل برطرف شد.",
	OutcomeDiscipline:       "موضوع تأیید و برای رسیدگی انضباطی ارجاع شد.",
}
