// Command get-service is Berth's GET /v1/services/{name} as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("get-service") }
