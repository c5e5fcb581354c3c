// Command reconcile is Berth's scheduled reconcile pass as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.StartReconcile() }
