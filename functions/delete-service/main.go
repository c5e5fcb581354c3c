// Command delete-service is Berth's DELETE /v1/services/{name} as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("delete-service") }
