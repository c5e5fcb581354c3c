// Command check-in is Berth's POST /v1/check-in as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("check-in") }
