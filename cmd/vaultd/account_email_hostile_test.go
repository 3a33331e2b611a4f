package main

import "strings"

// accountEmailHostileCases are the hostile-input rows of registration,
// verification and reset: each is refused before anything is written
// (self-registration is off in the hostile environment).
func accountEmailHostileCases() []hostileCase {
	long := strings.Repeat("A", 10_000)
	return []hostileCase{
		{"VerifyEmailTokenWithNULByteAnswers400", "GET", "/api/v1/auth/verify-email?token=%00", "", nil, 400},
		{"VerifyEmailTokenWithInvalidUTF8Answers400", "GET", "/api/v1/auth/verify-email?token=%FF", "", nil, 400},
		{"VerifyEmailTokenTooLongAnswers400", "GET", "/api/v1/auth/verify-email?token=" + long, "", nil, 400},
		{"VerifyEmailTokenGivenTwiceAnswers400", "GET", "/api/v1/auth/verify-email?token=a&token=b", "", nil, 400},
		{"VerifyEmailWithoutTokenAnswers400", "GET", "/api/v1/auth/verify-email", "", nil, 400},
		{"ForgotPasswordWithNULInEmailAnswers400", "POST", "/api/v1/auth/forgot-password", `{"email":"a\u0000@example.com"}`, nil, 400},
		{"ForgotPasswordWithHeaderInjectionAnswers400", "POST", "/api/v1/auth/forgot-password", `{"email":"a@example.com\r\nBcc: eve@example.com"}`, nil, 400},
		{"ForgotPasswordWithDisplayNameAnswers400", "POST", "/api/v1/auth/forgot-password", `{"email":"Eve <eve@example.com>"}`, nil, 400},
		{"ForgotPasswordWithDuplicateEmailKeyAnswers400", "POST", "/api/v1/auth/forgot-password", `{"email":"x","email":"admin@example.com"}`, nil, 400},
		{"ForgotPasswordWithInvalidUTF8Answers400", "POST", "/api/v1/auth/forgot-password", "{\"email\":\"\xff@example.com\"}", nil, 400},
		{"ResendVerificationWithNULInEmailAnswers400", "POST", "/api/v1/auth/resend-verification", `{"email":"a\u0000@example.com"}`, nil, 400},
		{"ResendVerificationWithHeaderInjectionAnswers400", "POST", "/api/v1/auth/resend-verification", `{"email":"a@example.com\r\nBcc: eve@example.com"}`, nil, 400},
		{"ResendVerificationWithDuplicateEmailKeyAnswers400", "POST", "/api/v1/auth/resend-verification", `{"email":"x","email":"admin@example.com"}`, nil, 400},
		{"ResendVerificationWithInvalidUTF8Answers400", "POST", "/api/v1/auth/resend-verification", "{\"email\":\"\xff@example.com\"}", nil, 400},
		{"ResendVerificationWithHugeEmailAnswers400", "POST", "/api/v1/auth/resend-verification", `{"email":"` + long + `@example.com"}`, nil, 400},
		{"ResetPasswordWithNULTokenAnswers400", "POST", "/api/v1/auth/reset-password", `{"token":"\u0000","new_password":"a-long-enough-passphrase"}`, nil, 400},
		{"ResetPasswordWithHugeTokenAnswers400", "POST", "/api/v1/auth/reset-password", `{"token":"` + long + `","new_password":"a-long-enough-passphrase"}`, nil, 400},
		{"ResetPasswordWithUnknownTokenAnswers400", "POST", "/api/v1/auth/reset-password", `{"token":"` + strings.Repeat("A", 43) + `","new_password":"a-long-enough-passphrase"}`, nil, 400},
		{"ResetPasswordWithMiscasedKeyAnswers400", "POST", "/api/v1/auth/reset-password", `{"Token":"x","new_password":"y"}`, nil, 400},
		{"RegisterWithDuplicateUsernameKeyAnswers400", "POST", "/api/v1/auth/register", `{"username":"a","email":"a@example.com","password":"x","username":"admin"}`, nil, 400},
		{"RegisterWhileDisabledAnswers403", "POST", "/api/v1/auth/register", `{"username":"newcomer","email":"new@example.com","password":"a-long-enough-passphrase"}`, nil, 403},
	}
}
