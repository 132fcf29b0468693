package sms

// AliyunCanonicalQuery exposes the canonical query to the external tests.
var AliyunCanonicalQuery = aliyunCanonicalQuery
