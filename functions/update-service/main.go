// Command update-service is Berth's PUT /v1/services/{name} as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("update-service") }
