// Command service-status is Berth's GET /v1/services/{name}/status as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("service-status") }
